import json

import pytest

from dockyard_common import errors, oci, seccomp

X86 = "x86_64"
KERNEL = (6, 1)


def _default(caps, machine=X86, kernel=KERNEL):
    return seccomp.convert(seccomp.default_profile(), caps, machine, kernel)


def _names(filter_):
    out = set()
    for rule in filter_.get("syscalls") or []:
        if rule["action"] == "SCMP_ACT_ALLOW" and "args" not in rule:
            out.update(rule["names"])
    return out


def test_default_profile_file_is_dockers():
    profile = seccomp.default_profile()
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    assert "defaultErrnoRet" not in profile      # 20.10's profile has none
    assert len(profile["syscalls"]) == 28           # moby 20.10.24's default.json, verbatim


def test_default_caps_keep_docker_rules_only():
    out = _default(oci.DEFAULT_CAPABILITIES)
    assert out["defaultAction"] == "SCMP_ACT_ERRNO"
    assert out["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    allowed = _names(out)
    assert {"read", "socket", "ptrace", "chroot", "arch_prctl", "modify_ldt"} <= allowed
    # CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_SYS_TIME... rules are gone; so are other arches'.
    for name in ("unshare", "mount", "setns", "process_vm_readv", "settimeofday", "reboot",
                 "open_by_handle_at", "set_tls", "s390_runtime_instr", "sync_file_range2"):
        assert name not in allowed
    # Without CAP_SYS_ADMIN: clone only without namespace flags, clone3 -> ENOSYS.
    clone = [r for r in out["syscalls"] if r["names"] == ["clone"]]
    assert clone == [{"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]}]
    assert {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38} in out["syscalls"]


def test_cap_includes_and_excludes():
    caps = oci.tweak_capabilities(oci.DEFAULT_CAPABILITIES, ["SYS_ADMIN", "SYS_PTRACE"],
                                  ["SYS_CHROOT"])
    out = _default(caps)
    allowed = _names(out)
    assert {"unshare", "mount", "setns", "clone", "clone3", "kcmp", "process_vm_readv"} <= allowed
    assert "chroot" not in allowed                       # its includes cap was dropped
    assert not [r for r in out["syscalls"] if r["action"] == "SCMP_ACT_ERRNO"]  # excluded
    assert not [r for r in out["syscalls"] if r.get("args") and r["names"] == ["clone"]]


def test_arch_filter_aarch64():
    out = _default(oci.DEFAULT_CAPABILITIES, machine="aarch64")
    assert out["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    allowed = _names(out)
    assert {"set_tls", "cacheflush", "arm_fadvise64_64"} <= allowed
    assert "arch_prctl" not in allowed and "modify_ldt" not in allowed


def test_unknown_arch_leaves_architectures_to_runc():
    out = _default(oci.DEFAULT_CAPABILITIES, machine="sparc64")
    assert "architectures" not in out


def test_min_kernel():
    assert "ptrace" in _names(_default(oci.DEFAULT_CAPABILITIES, kernel=(4, 8)))
    assert "ptrace" not in _names(_default(oci.DEFAULT_CAPABILITIES, kernel=(4, 4)))
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["link"], "action": "SCMP_ACT_ERRNO", "excludes": {"minKernel": "5.0"}}]}
    assert "syscalls" not in seccomp.convert(profile, [], X86, (5, 10))
    assert seccomp.convert(profile, [], X86, (4, 19))["syscalls"][0]["names"] == ["link"]


def test_custom_profile_like_dockerd_20_10():
    body = json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 5, "flags": ["SECCOMP_FILTER_FLAG_LOG"],
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            {"name": "mkdir", "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "comment": "x"},
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["chown"], "action": "SCMP_ACT_ERRNO", "excludes": {"arches": ["amd64"]}},
            {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO",
             "includes": {"arches": ["amd64"], "minKernel": "4.8"}},
            {"names": ["link"], "action": "SCMP_ACT_ERRNO", "excludes": {"minKernel": "4.8"}}]})
    # What the real 20.10.24 engine gave runc for this profile (defaultErrnoRet, flags dropped).
    assert seccomp.load_profile(body, oci.DEFAULT_CAPABILITIES, X86, KERNEL) == {
        "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                     {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"}]}


def test_go_json_keys_are_case_insensitive():
    body = '{"DefaultAction": "SCMP_ACT_ALLOW", "Syscalls": [{"Names": ["mkdir"], "Action": "SCMP_ACT_ERRNO"}]}'
    assert seccomp.load_profile(body, [], X86, KERNEL) == {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}


@pytest.mark.parametrize("body, message", [
    ("{bad", "Decoding seccomp profile failed: invalid character 'b' looking for beginning "
             "of object key string"),
    ("{", "Decoding seccomp profile failed: unexpected end of JSON input"),
    ("[]", "Decoding seccomp profile failed: json: cannot unmarshal array into Go value of "
           "type seccomp.Seccomp"),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], '
     '"archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}',
     "'architectures' and 'archMap' were specified in the seccomp profile, use either "
     "'architectures' or 'archMap'"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "mkdir", "names": ["x"], '
     '"action": "SCMP_ACT_ERRNO"}]}',
     "'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ERRNO", '
     '"includes": {"minKernel": "4"}}]}',
     'Decoding seccomp profile failed: invalid kernel version: "4", expected "<kernel>.<major>"'),
])
def test_bad_profiles_get_dockerd_errors(body, message):
    with pytest.raises(seccomp.ProfileError) as exc:
        seccomp.load_profile(body, [], X86, KERNEL)
    assert str(exc.value) == message


def test_bad_profile_is_a_500_for_the_container():
    with pytest.raises(errors.InvalidArgument) as exc:
        seccomp.linux_seccomp({"SecurityOpt": ["seccomp={bad"]}, [])
    assert "Decoding seccomp profile failed" in str(exc.value)


def test_empty_profile_means_no_filter():
    assert seccomp.load_profile("{}", [], X86, KERNEL) is None


def test_unconfined_privileged_and_default():
    caps = list(oci.DEFAULT_CAPABILITIES)
    assert seccomp.linux_seccomp({"SecurityOpt": ["seccomp=unconfined"]}, caps) is None
    assert seccomp.linux_seccomp({"SecurityOpt": ["seccomp:unconfined"]}, caps) is None
    assert seccomp.linux_seccomp({}, caps, privileged=True) is None
    assert seccomp.linux_seccomp({"SecurityOpt": ["no-new-privileges"]}, caps)["defaultAction"] \
        == "SCMP_ACT_ERRNO"


def test_spec_carries_the_filter():
    spec = oci.build_spec({"Cmd": ["true"]}, {"CapAdd": ["SYS_ADMIN"]}, container_id="c" * 64,
                          netns_path=None, hostname="h")
    assert "unshare" in _names(spec["linux"]["seccomp"])
    spec = oci.build_spec({"Cmd": ["true"]}, {"SecurityOpt": ["seccomp=unconfined"]},
                          container_id="c" * 64, netns_path=None, hostname="h")
    assert "seccomp" not in spec["linux"]


@pytest.mark.parametrize("opt, message", [
    ("seccomp", 'invalid --security-opt 1: "seccomp"'),
    ("bogus=1", 'invalid --security-opt 2: "bogus=1"'),
    ("no-new-privileges=maybe", 'invalid --security-opt 2: "no-new-privileges=maybe"'),
])
def test_security_opt_errors(opt, message):
    with pytest.raises(errors.InvalidArgument) as exc:
        seccomp.parse_security_opts([opt])
    assert str(exc.value) == message


def test_security_opts_accepted():
    assert seccomp.parse_security_opts(["label=disable", "apparmor=x", "disable",
                                        "no-new-privileges", "no-new-privileges=false"]) == ""
    assert seccomp.parse_security_opts(['seccomp={"a": 1}']) == '{"a": 1}'
