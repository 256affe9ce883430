"""`python -m wesley`."""

from wesley.cli.app import main

main()
