"""`python -m relaystore` is the `relaystore` console command."""
from .cli import main

raise SystemExit(main())
