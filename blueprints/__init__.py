"""HTTP surfaces. Each module owns one blueprint; this lists them with their CSRF exemption."""


def BLUEPRINTS():
    """(blueprint, csrf_exempt) pairs, imported lazily so importing the package is cheap."""
    from blueprints.auth import bp as auth
    from blueprints.health import bp as health

    found = [(health, True), (auth, False)]
    for module, exempt in (("blueprints.inbound", True), ("blueprints.pagerduty", True), ("blueprints.api", True),
                           ("blueprints.respond", False), ("blueprints.dashboard", False)):
        try:
            mod = __import__(module, fromlist=["bp"])
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        found.append((mod.bp, exempt))
    return found
