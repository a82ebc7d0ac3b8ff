from embed_svc.app import main

main()
