from crowdlens.cli import main

raise SystemExit(main())
