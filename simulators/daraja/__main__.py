from simulators.daraja.cli import main

raise SystemExit(main())
