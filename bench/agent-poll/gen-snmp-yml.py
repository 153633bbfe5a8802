#!/usr/bin/env python3
"""Generate bench/agent-poll/snmp.yml: prometheus-snmp-exporter (0.21)
modules that make the same SNMP requests per device as meterline-agent.

    python3 bench/agent-poll/gen-snmp-yml.py                 # rewrite snmp.yml
    python3 bench/agent-poll/gen-snmp-yml.py -o - [--root R] # print it
    python3 bench/agent-poll/gen-snmp-yml.py --fleet-modules # fixture<TAB>module

Standard library only (tomllib: Python 3.11+). Read from the source tree
(--root, default the repository this file is in):

  agent/internal/printer/oids.go    the standard GET (`scalars`), the standard
                                    walks (`subtrees`) and the PWG key table
  agent/internal/profile/profiles/*.toml   the vendor profiles
  bench/agent-poll/standard-metrics.yml    hand-written standard metrics

What the agent does per device (agent/internal/printer/read.go, Fetch):
one GET of sysDescr/sysObjectID; a walk of each standard subtree; if a
profile matches: a walk of each of its `walk` subtrees and one GET of its
scalars (profileScalars: identity candidates, then counter oids and sum oids,
minus any with a "*" or below a walked subtree, without repeats); if no
profile matches or the profile has no black counter (other than a fallback
one): a walk of the PWG icKeyTable (and of icImpressionTable when that has
rows, which the exporter cannot make conditional; see the header it writes).

One module per profile, printer_<name>, does the same; module "printer" is
for devices no profile matches (standard walks + PWG key table).

--fleet-modules prints, for each printersim fleet fixture (printersim/sim/
fleet/*.snmprec), the module the agent's profile matching would choose from
the fixture's sysObjectID and sysDescr; run.sh uses it to pick each
device's module.
"""

import argparse
import glob
import os
import re
import sys
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))

# SNMP settings: the agent's defaults (agent/internal/snmp/client.go and the
# daemon's config defaults): v2c, community public, timeout 5 s, 1 retry,
# 25 repetitions per GetBulk.
SETTINGS = """  version: 2
  auth:
    community: public
  timeout: 5s
  retries: 1
  max_repetitions: 25
"""

# Index layout of the vendor tables profiles walk, by table entry OID (the
# profile TOML does not say it). A walked column of a table not listed here
# is still walked, but gets no metric (the generator warns): add it here.
TABLE_INDEXES = {
    # XEROX-HOST-RESOURCES-EXT-MIB xcmHrDevDetailEntry
    "1.3.6.1.4.1.253.8.53.13.2.1": ["hrDeviceIndex", "xcmHrDevDetailType", "xcmHrDevDetailIndex"],
    # Ricoh engine counter table (one row index)
    "1.3.6.1.4.1.367.3.2.1.2.19.5.1": ["ricohCounterIndex"],
    # Sharp counter name table, index <a>.<b>.<c>
    "1.3.6.1.4.1.2385.1.1.19.2.1": ["sharpCounterA", "sharpCounterB", "sharpCounterC"],
}


def die(msg):
    print(f"gen-snmp-yml: {msg}", file=sys.stderr)
    sys.exit(1)


def warn(msg):
    print(f"gen-snmp-yml: warning: {msg}", file=sys.stderr)


def in_subtree(root, oid):
    return oid == root or oid.startswith(root + ".")


# --- the agent's standard OIDs --------------------------------------------


def read_oids_go(path):
    src = open(path, encoding="utf-8").read()
    consts = dict(re.findall(r'^\s*(oid\w+)\s*=\s*"([0-9.]+)"', src, re.M))

    def block(start):
        m = re.search(r"^var " + start + r".*?\n}", src, re.M | re.S)
        if not m:
            die(f"{path}: no `var {start}`")
        return m.group(0)

    def resolve(name):
        if name not in consts:
            die(f"{path}: unknown constant {name}")
        return consts[name]

    scalars_m = re.search(r"^var scalars\s*=\s*\[\]string\{([^}]*)\}", src, re.M)
    if not scalars_m:
        die(f"{path}: no `var scalars`")
    scalars = [resolve(n) for n in re.findall(r"oid\w+", scalars_m.group(1))]
    subtrees = [(n, resolve(o)) for n, o in re.findall(r'\{"(\w+)",\s*(oid\w+)\}', block("subtrees"))]
    if not scalars or not subtrees:
        die(f"{path}: could not read scalars/subtrees")
    # Older trees (before vendor profiles) have no PWG probe.
    pwg_key = consts.get("oidICKeyEntry")
    pwg_imp = consts.get("oidICImpressionEntry")
    return scalars, subtrees, pwg_key, pwg_imp


# --- profiles ---------------------------------------------------------------


def norm(oid):
    return oid.strip().lstrip(".")


def read_profiles(pdir):
    files = sorted(glob.glob(os.path.join(pdir, "*.toml")))
    if not files:
        warn(f"no profiles in {pdir}: module \"printer\" only")
    profiles = []
    for f in files:
        with open(f, "rb") as fh:
            doc = tomllib.load(fh)
        for p in doc.get("profile", []):
            p["walk"] = [norm(w) for w in p.get("walk", [])]
            p["_file"] = os.path.basename(f)
            profiles.append(p)
    return profiles


def has_black(p):
    return any(c.get("kind") == "black" and not c.get("fallback", False) for c in p.get("counter", []))


def profile_scalars(p):
    """agent/internal/printer/read.go profileScalars, with a role per OID."""
    out, seen = [], set()

    def add(oid, role):
        oid = norm(oid) if oid else ""
        if not oid or oid in seen or "*" in oid.split("."):
            return
        if any(in_subtree(r, oid) for r in p["walk"]):
            return
        seen.add(oid)
        out.append((oid, role))

    ident = p.get("identity", {})
    for field in ("serial", "model", "firmware"):
        for t in ident.get(field, []):
            add(t.get("oid", ""), ("text", field, t.get("decode", "")))
    for c in p.get("counter", []):
        add(c.get("oid", ""), ("counter", c["kind"], c.get("decoder", "")))
        for o in c.get("sum", []):
            add(o, ("counter", c["kind"] + "_sum", ""))
    return out


def match(profiles, enterprise, sys_descr):
    """profile.Set.Match, passes 1-3 (pass 4, the vendor named from
    sysDescr, is left out: the demo fleet always has a sysObjectID)."""
    lists = [p for p in profiles if enterprise and enterprise in p.get("enterprises", [])]
    for p in lists:
        if p.get("sys_descr") and re.search(p["sys_descr"], sys_descr):
            return p
    for p in lists:
        if not p.get("sys_descr"):
            return p
    if lists:
        return None
    for p in profiles:
        if p.get("sys_descr") and re.search(p["sys_descr"], sys_descr):
            return p
    return None


# --- YAML -------------------------------------------------------------------


def q(s):
    """A YAML double-quoted scalar."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def metric_name(s):
    s = re.sub(r"[^A-Za-z0-9_]", "_", s)
    s = re.sub(r"_+", "_", s).strip("_")
    if not re.match(r"[A-Za-z_]", s):
        s = "m_" + s
    return s


def vendor_metrics(p):
    """Metric definitions for a profile's walked columns and scalars."""
    lines, names = [], set()
    pname = p["name"]

    def unique(n):
        n = metric_name(n)
        base, i = n, 2
        while n in names:
            n, i = f"{base}_{i}", i + 1
        names.add(n)
        return n

    # Roles of walked columns, from the counters that use them.
    role = {}
    lookups = {}  # value column -> [(column, labelname type)]
    for c in p.get("counter", []):
        t = c.get("table")
        if t:
            v = norm(t["value"])
            role[v] = "value"
            for col, kind in ((t.get("name"), "name"), (t.get("code"), "code")):
                if col:
                    role[norm(col)] = kind
                    lookups.setdefault(v, [])
                    if (norm(col), kind) not in lookups[v]:
                        lookups[v].append((norm(col), kind))
        o = norm(c.get("oid", ""))
        if "*" in o.split("."):
            for w in p["walk"]:
                if in_subtree(w, o.split(".*")[0]):
                    role.setdefault(w, "value")
    col_name = {}
    for w in p["walk"]:
        col_name[w] = unique(f"{pname}_counter_{role.get(w, 'column')}")

    for w in p["walk"]:
        entry = w.rsplit(".", 1)[0]
        idx = TABLE_INDEXES.get(entry)
        if idx is None:
            warn(f"profile {pname}: no index layout for walked {w} (add its table to TABLE_INDEXES): walked, not decoded")
            lines.append(f"    # {w}: walked, no metric (index layout unknown to gen-snmp-yml.py)")
            continue
        r = role.get(w, "column")
        typ = {"value": "counter", "name": "DisplayString", "code": "gauge"}.get(r, "gauge")
        lines += [
            f"    - name: {col_name[w]}",
            f"      oid: {w}",
            f"      type: {typ}",
            f"      help: {q(f'{pname} profile: walked column ({r}) - {w}')}",
            "      indexes:",
        ]
        for label in idx:
            lines += [f"        - labelname: {label}", "          type: gauge"]
        lk = [(col, kind) for col, kind in lookups.get(w, []) if col in col_name]
        if lk:
            lines.append("      lookups:")
            for col, kind in lk:
                lines += [
                    f"        - labels: [{', '.join(idx)}]",
                    f"          labelname: {col_name[col]}",
                    f"          oid: {col}",
                    f"          type: {'DisplayString' if kind == 'name' else 'gauge'}",
                ]

    for oid, (what, field, decode) in profile_scalars(p):
        if what == "text":
            typ = "OctetString" if decode == "hp" else "DisplayString"
            name = unique(f"{pname}_{field}")
        else:
            typ = "OctetString" if decode else "counter"
            name = unique(f"{pname}_{field}")
        lines += [
            f"    - name: {name}",
            f"      oid: {oid}",
            f"      type: {typ}",
            f"      help: {q(f'{pname} profile: {field} - {oid}')}",
        ]
    return lines


def generate(root):
    oids_go = os.path.join(root, "agent/internal/printer/oids.go")
    pdir = os.path.join(root, "agent/internal/profile/profiles")
    std_path = os.path.join(HERE, "standard-metrics.yml")
    scalars, subtrees, pwg_key, pwg_imp = read_oids_go(oids_go)
    profiles = read_profiles(pdir)
    std = open(std_path, encoding="utf-8").read().splitlines()
    anchors = re.findall(r"^- &(\w+)\s*$", "\n".join(std), re.M)
    if not anchors:
        die(f"{std_path}: no `- &std_...` items")
    while std and std[0].startswith("#"):  # the file's own header
        std.pop(0)
    std_body = [("    " + l).rstrip() for l in std]

    out = []
    w = out.append
    w("# GENERATED by bench/agent-poll/gen-snmp-yml.py: do not edit; edit the")
    w("# generator or standard-metrics.yml and rerun it (run.sh does, and warns")
    w("# when this file was stale).")
    w("#")
    w("# prometheus-snmp-exporter 0.21 configuration for the agent-poll benchmark:")
    w("# one module per vendor profile of the agent, so that, per device, the")
    w("# exporter makes the requests meterline-agent makes (read.go, Fetch):")
    w("#   GET   " + ", ".join(scalars) + " (the agent: one GET)")
    w("#   walk  the agent's standard subtrees (oids.go `subtrees`):")
    for n, o in subtrees:
        w(f"#           {o}  {n}")
    w("#   walk  the matched profile's `walk` subtrees")
    w("#   GET   the profile's scalars (identity candidates, scalar counters not")
    w("#         under a walked subtree); the exporter sends them in the same GET")
    w("#         as sysDescr/sysObjectID, the agent in a second one")
    if pwg_key:
        w(f"#   walk  the PWG icKeyTable {pwg_key}")
        w("#         when the profile has no black meter (or no profile matches:")
        w("#         module \"printer\")")
        w(f"# Not done: icImpressionTable {pwg_imp}, which the")
        w("# agent walks only when icKeyTable has rows (never on the demo fleet);")
        w("# an exporter module cannot make a walk conditional.")
    w("# Settings: the agent's defaults (v2c, community public, timeout 5s,")
    w("# 1 retry, max_repetitions 25). 0.21 takes the modules at the top level")
    w("# (0.23+ nests them under \"modules:\" and moves the community to \"auths:\").")
    w("#")
    w("# module                     walks (std+vendor+PWG)  GET OIDs (2 + scalars)")

    mods = [("printer", None)] + [("printer_" + p["name"], p) for p in profiles]
    for name, p in mods:
        vw = len(p["walk"]) if p else 0
        pw = 1 if pwg_key and (p is None or not has_black(p)) else 0
        ns = len(profile_scalars(p)) if p else 0
        ent = ",".join(str(e) for e in p.get("enterprises", [])) if p else "-"
        w(f"#   {name:<24} {len(subtrees)}+{vw}+{pw}{'':<18} 2+{ns:<4} enterprises {ent}")

    for name, p in mods:
        w("")
        w(f"{name}:")
        out.append(SETTINGS.rstrip("\n"))
        get = list(scalars)
        if p:
            get += [o for o, _ in profile_scalars(p)]
        w("  get:")
        for o in get:
            w(f"    - {o}")
        w("  walk:")
        for _, o in subtrees:
            w(f"    - {o}")
        if p:
            for o in p["walk"]:
                w(f"    - {o}  # {p['name']} profile")
        if pwg_key and (p is None or not has_black(p)):
            w(f"    - {pwg_key}  # PWG icKeyTable probe")
        w("  metrics:")
        if p is None:
            out.extend(l for l in std_body)
        else:
            for a in anchors:
                w(f"    - *{a}")
            out.extend(vendor_metrics(p))
    return "\n".join(out) + "\n"


def fleet_modules(root):
    profiles = read_profiles(os.path.join(root, "agent/internal/profile/profiles"))
    for f in sorted(glob.glob(os.path.join(root, "printersim/sim/fleet/*.snmprec"))):
        descr, objid = "", ""
        for line in open(f, encoding="utf-8", errors="replace"):
            parts = line.rstrip("\n").split("|", 2)
            if len(parts) != 3:
                continue
            if parts[0] == "1.3.6.1.2.1.1.1.0":
                descr = parts[2]
            elif parts[0] == "1.3.6.1.2.1.1.2.0":
                objid = parts[2]
        ent = 0
        m = re.match(r"\.?1\.3\.6\.1\.4\.1\.(\d+)", objid)
        if m:
            ent = int(m.group(1))
        p = match(profiles, ent, descr)
        fixture = os.path.basename(f)[: -len(".snmprec")]
        print(f"{fixture}\t{'printer_' + p['name'] if p else 'printer'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.normpath(os.path.join(HERE, "../..")),
                    help="source tree to read (default: this repository)")
    ap.add_argument("-o", "--output", default=os.path.join(HERE, "snmp.yml"),
                    help="where to write (- for stdout; default snmp.yml next to this script)")
    ap.add_argument("--fleet-modules", action="store_true",
                    help="print fixture<TAB>module for the printersim fleet fixtures, and exit")
    a = ap.parse_args()
    if a.fleet_modules:
        fleet_modules(a.root)
        return
    text = generate(a.root)
    if a.output == "-":
        sys.stdout.write(text)
    else:
        tmp = a.output + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, a.output)


if __name__ == "__main__":
    main()
