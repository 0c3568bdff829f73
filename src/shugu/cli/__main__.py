from shugu.cli import main

main()
