from ingest_svc.app import main

main()
