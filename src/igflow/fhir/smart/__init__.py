"""SMART Backend Services for ``/fhir/R4`` (SMART App Launch 2.x, RFC 7523).

- :mod:`.scopes` (pure): the ``system/`` scopes this server grants and which interactions they cover.
- :mod:`.jwks` (pure): a registered client's public keys, checked when pasted (RSA >= 2048 or EC P-384).
- :mod:`.models`: registered backend clients and the client-assertion ids (``jti``) already used.
- :mod:`.service`: registering and disabling clients, and the token exchange (signed assertion in, a
  short-lived igflow bearer token out, carrying the granted scopes).
- :mod:`.token_routes`: ``POST /fhir/R4/auth/token`` and ``/fhir/R4/.well-known/smart-configuration``;
  :mod:`.routes` and :mod:`.pages`: the administrators' JSON API and page.
"""
