from nnhls.cli import main

raise SystemExit(main())
