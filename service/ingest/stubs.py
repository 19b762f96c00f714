"""What paywall and registration boxes say: "subscribe to continue reading" and its kin.

English carries most of the wording; German, French and Spanish sites' commonest phrasings
are included so that a teaser from them is not taken for a short article.
"""

from __future__ import annotations

import re

STRONG_STUB = re.compile(
    r"""(?:subscribe|sign\ up|register|log\ ?in|sign\ in)(?:\ now|\ today)?
          \ to\ (?:continue|keep|start)\ reading
    | to\ (?:continue|keep)\ reading,?\ (?:please\ )?
          (?:subscribe|sign\ in|log\ ?in|register|become\ a\ member)
    | (?:this|the\ rest\ of\ this|the\ full)\ (?:article|story|content)\ is\ (?:only\ )?
          (?:available|reserved|exclusive)(?:\ only)?\ (?:to|for)\ (?:paying\ |our\ )?
          (?:subscribers|members|premium)
    | subscribers?[-\ ]only\ (?:article|content|story)
    | you(?:'|’ve|\ have)\ (?:reached|used)\ (?:your|all(?:\ of)?\ your)\ (?:limit\ of\ )?
          (?:\d+\ )?free\ (?:articles|stories)
    | (?:unlock|read)\ (?:this|the\ full|the\ rest\ of\ this)\ (?:article|story)\ (?:with|by|for)
    | create\ a\ free\ account\ to\ (?:continue|keep)\ reading
    | (?:jetzt\ )?weiterlesen\ mit\ \S+
    | (?:diesen|den\ ganzen|den\ vollständigen)\ (?:artikel|beitrag)\ (?:lesen|freischalten)\ mit
    | (?:exklusiv|nur)\ für\ (?:abonnenten|abonnentinnen|\S+plus-?abonnenten)
    | (?:la\ suite\ est\ réservée|article\ réservé)\ aux\ abonnés
    | (?:este\ contenido\ es\ exclusivo|contenido\ exclusivo)\ para\ suscriptores""",
    re.IGNORECASE | re.VERBOSE,
)
"""Says outright that the rest of the article is behind a subscription or registration."""

WEAK_STUB = re.compile(
    r"already\ an?\ (?:subscriber|member)\?|bereits\ (?:abonnent|abonnentin)\?|déjà\ abonné\ ?\?",
    re.IGNORECASE | re.VERBOSE,
)
"""A sign-in prompt for subscribers: common on free pages too, so only corroborating evidence."""

PAYWALL_MESSAGE = re.compile(f"(?:{STRONG_STUB.pattern})|(?:{WEAK_STUB.pattern})", re.IGNORECASE | re.VERBOSE)
"""Either kind, for searching the page's whole visible text."""
