from retrieve_svc.app import main

main()
