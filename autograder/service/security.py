"""The security headers of every answer, and the Content-Security-Policy of each kind of page."""

# Our own pages: scripts and styles from /static only, nothing inline, nothing from elsewhere.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
# Feedback pages and the class dashboard: self-contained (inline style, pictures as data: URIs),
# no script at all, sandboxed: student text on them can never run or send anything.
FEEDBACK_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; "
                "frame-ancestors 'none'; base-uri 'none'; sandbox")
HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer",
           "cross-origin-opener-policy": "same-origin", "cross-origin-resource-policy": "same-origin",
           "permissions-policy": "camera=(), microphone=(), geolocation=()", "cache-control": "no-store"}
# The class dashboard links to feedback pages of this service: not sandboxed (a sandboxed page's
# links would arrive without the SameSite session cookie).
DASHBOARD_CSP = FEEDBACK_CSP.removesuffix("; sandbox")
