def add_arguments(p):
    p.add_argument("--json", action="store_true", help="print defaults and search spaces as JSON")
