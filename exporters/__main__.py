from exporters.cli import main

main()
