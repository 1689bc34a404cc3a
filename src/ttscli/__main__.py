from ttscli.cli.app import main

main()
