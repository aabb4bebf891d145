from fitsync.cli import main

main()
