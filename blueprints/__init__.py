"""HTTP surfaces. Each module owns one blueprint; this lists them with their CSRF exemption."""


def BLUEPRINTS():
    """(blueprint, csrf_exempt) pairs, imported lazily so importing the package is cheap."""
    from blueprints import api, auth, calendar, dashboard, edges, health, inbound, pagerduty, respond, xm

    # Machine-facing surfaces are exempt from CSRF (they authenticate by key or token); forms are not.
    return [(edges.bp, True), (health.bp, True), (inbound.bp, True), (pagerduty.bp, True), (api.bp, True),
            (calendar.bp, True), (xm.bp, True),
            (auth.bp, False), (respond.bp, False), (dashboard.bp, False)]
