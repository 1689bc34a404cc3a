from ttscli.cli import main

main()
