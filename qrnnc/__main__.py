from qrnnc.cli import main

main()
