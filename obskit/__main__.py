from obskit.cli import main

main()
