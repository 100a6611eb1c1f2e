from paperfs.cli import main

main()
