#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, from tests/fixtures (events, tokens).

Writes into fuzz/corpus/<target>/ (git-ignored); libFuzzer adds what it finds there.
Usage: python3 fuzz/seeds/make_seeds.py [corpus-dir]
"""
import base64
import glob
import hashlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "fuzz", "corpus")


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def b64url_decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


events = sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/events/*.json")))
events += sorted(glob.glob(os.path.join(ROOT, "perf/events/*.json")))
for path in events:
    raw = open(path, "rb").read()
    put("event", raw)
    event = json.loads(raw)
    for field in ("rawQueryString", "body"):
        if isinstance(event.get(field), str):
            put("params", event[field])
    mv = event.get("multiValueQueryStringParameters") or {}
    if mv:
        put("params", "&".join(f"{k}={v}" for k, vs in mv.items() for v in vs))

tokens = json.load(open(os.path.join(ROOT, "tests/fixtures/tokens.json")))
for i, token in enumerate(tokens["tokens"].values()):
    parts = token.split(".")
    if len(parts) != 3:
        continue
    try:
        header, claims = b64url_decode(parts[0]), b64url_decode(parts[1])
    except Exception:
        continue
    # The target signs with its own HS256 secret: name HS256 and push exp into the future.
    try:
        h = json.loads(header)
        c = json.loads(claims)
        h["alg"] = "HS256"
        h.pop("kid", None)
        c["exp"] = 4102444800
        c.pop("aud", None)
        c.pop("iss", None)
        c.setdefault("org", "acme")
        put("token", bytes([i % 4]) + json.dumps(h).encode() + b"\xff" + json.dumps(c).encode())
    except Exception:
        pass
    put("token", bytes([i % 4]) + header + b"\xff" + claims)

rules = [
    "private-user-{sub} presence-room-* private-encrypted-org-{org_id}-*",
    "private-{org}-*-{sub}",
    "private-{a}-{b} private-*.{a} presence-{a}",
    "private-*a*a*a*b private-**a",
    "private-*ab*ab* private-*-{sub}-inbox presence-*.{teams}",
]
users = [("1", '{"org_id":"acme","org":"o1","a":"x","b":"y","teams":["r","b-c"]}'), ("7", '{"org":"o1-x","a":"x.y"}')]
for rule in rules:
    for channel in ["private-user-1", "presence-room-lobby", "private-encrypted-org-acme-x", "private-o1-x-7", "private-x-y", "private-x-1-inbox", "private-abab"]:
        put("policy", "\n".join([rule, channel, users[0][0], users[0][1], users[1][0], users[1][1], "lobby x-y"]))
