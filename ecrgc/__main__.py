from ecrgc.cli import main

main()
