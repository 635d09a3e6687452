"""Container links (`--link target:alias`, EndpointSettings.Links), as libnetwork keeps them.

An endpoint row keeps its links as "target:alias" entries.
- On the default bridge the target is a container id (the apiserver resolved it): the linking
  container's /etc/hosts gets "<target ip>\t<alias> <target hostname> [<target name>]" (the
  name only when it differs from the alias). The file is rendered when the linking container
  joins and again whenever the target joins (a restarted target has a new address: dockerd's
  OptionParentUpdate).
- On user-defined networks the target is a name as given: the embedded DNS answers `alias`
  with that name's addresses on the network, for the linking container only (libnetwork's
  endpoint aliases, see dnsrecords).
"""

DEFAULT_BRIDGE = "bridge"


def parse(entry):
    """(target, alias) of a "target:alias" entry (a bare "target" is its own alias)."""
    target, _, alias = entry.partition(":")
    return target, alias or target


def _on_default_bridge(net):
    return bool(net) and net["predefined"] and net["name"] == DEFAULT_BRIDGE


def hosts_lines(store, container_id):
    """The /etc/hosts lines of the container's links on the default bridge (targets without an
    address there are left out, as Docker)."""
    out = []
    for ep in store.endpoints(container_id=container_id):
        if not ep.get("links") or not _on_default_bridge(store.network(ep["network_id"])):
            continue
        for entry in ep["links"]:
            target, alias = parse(entry)
            tep, tsb = store.endpoint(target, ep["network_id"]), store.sandbox(target)
            if tep is None or tsb is None:
                continue
            names = [alias] + ([tsb["hostname"]] if tsb["hostname"] else [])
            tname = tsb["container_name"].lstrip("/")
            if tname and tname != alias:
                names.append(tname)
            for ip in (tep["ip"], tep.get("ip6")):
                if ip:
                    out.append("%s\t%s\n" % (ip, " ".join(names)))
    return out


def linking_sandboxes(store, container_id, net):
    """The sandboxes whose default-bridge links name `container_id` (it just joined `net`)."""
    if not _on_default_bridge(net):
        return []
    out = []
    for ep in store.endpoints(network_id=net["id"]):
        if ep["container_id"] == container_id:
            continue
        if any(parse(e)[0] == container_id for e in ep.get("links") or ()):
            sb = store.sandbox(ep["container_id"])
            if sb is not None:
                out.append(sb)
    return out


def dns_aliases(entries):
    """{alias: target name} (lower case) of an endpoint's links on a user-defined network."""
    out = {}
    for entry in entries or ():
        target, alias = parse(entry)
        if target and alias:
            out[alias.lower()] = target.lstrip("/").lower()
    return out
