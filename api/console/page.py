"""The console's one HTML page: a shell that loads api/console/static/app.js,
which draws every screen from the GraphQL API. The page refers only to its
own files, by relative URL (a reverse proxy's path prefix carries over), and
its policy lets nothing else load: the console works without internet."""

from __future__ import annotations

from starlette.responses import HTMLResponse, Response

# 'self' only. Styles need 'unsafe-inline' for ECharts' tooltips (it writes
# style attributes into their markup); scripts stay 'self', no eval.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
])

PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Guanxi 关系 · Console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="static/console.css">
<script src="static/vendor/echarts.min.js" defer></script>
<script type="module" src="static/app.js"></script>
</head>
<body>
<div id="app" aria-live="polite">Loading…</div>
</body>
</html>
"""


def page_response() -> Response:
    return HTMLResponse(PAGE, headers={
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    })
