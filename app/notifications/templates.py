"""Message templates: one notification rendered as email (plain + HTML) and as a Telegram message."""

from __future__ import annotations

from html import escape

_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family: -apple-system, Segoe UI, Roboto, sans-serif; color: #1a1a1a; max-width: 560px">
<h2 style="font-size: 18px">{title}</h2>
<p style="font-size: 15px; line-height: 1.5">{body}</p>
{action}
<hr style="border: none; border-top: 1px solid #ddd">
<p style="font-size: 12px; color: #666">ATP — verified aircraft trading. Choose which notifications reach you
by email in Settings → Notifications.</p>
</body></html>
"""


def email_text(title: str, body: str, link: str | None) -> str:
    lines = [title, "", body]
    if link:
        lines += ["", f"Open: {link}"]
    lines += [
        "",
        "--",
        "ATP — verified aircraft trading. Choose your notifications in Settings → Notifications.",
    ]
    return "\n".join(lines) + "\n"


def email_html(title: str, body: str, link: str | None) -> str:
    action = ""
    if link:
        action = (
            f'<p><a href="{escape(link, quote=True)}" style="background: #0b5fff; color: #fff; padding: 8px 14px;'
            ' border-radius: 4px; text-decoration: none">Open in ATP</a></p>'
        )
    return _HTML.format(title=escape(title), body=escape(body).replace("\n", "<br>"), action=action)


def telegram_text(title: str, body: str, link: str | None) -> str:
    """Plain text (no parse_mode): nothing a user typed can turn into markup."""
    text = f"{title}\n\n{body}" if body else title
    if link:
        text += f"\n\n{link}"
    return text[:4096]
