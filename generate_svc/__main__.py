from generate_svc.app import main

main()
