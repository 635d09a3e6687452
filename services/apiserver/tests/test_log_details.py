"""`docker logs --details`: the attributes json-file records per line (compared with dockerd 20.10)."""

from dockyard_apiserver.backend.log_config import details_prefix


def _hc(**opts):
    return {"LogConfig": {"Type": "json-file", "Config": opts}}


def test_named_and_matched_labels_and_env_sorted_and_escaped():
    config = {"Labels": {"a": "b", "xy": "1 2&", "ab": "c"}, "Env": ["E1=v", "E2=s p", "PATH=/bin"]}
    hc = _hc(labels="a,nolabel", **{"labels-regex": "^x", "env": "E1", "env-regex": "^E2"})
    assert details_prefix(config, hc) == b"E1=v,E2=s+p,a=b,xy=1+2%26 "


def test_without_attributes_a_line_starts_with_a_space():
    assert details_prefix({"Labels": {"a": "b"}, "Env": ["A=1"]}, _hc()) == b" "
    assert details_prefix({}, {}) == b" "


def test_a_bad_regex_adds_nothing():
    assert details_prefix({"Labels": {"a": "b"}}, _hc(**{"labels-regex": "("})) == b" "
