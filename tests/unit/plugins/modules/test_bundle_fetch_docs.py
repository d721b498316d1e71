"""bundle_fetch is implemented by an action plugin, so ansible-test's validate-modules
cannot compare its DOCUMENTATION with an argument spec. This test does: every option
the action plugin accepts (FETCH_SPEC) is documented with the same type, default,
choices, elements and required flag, and nothing undocumented is accepted."""

import pytest
import yaml

from ansible_collections.groundwork.infra.plugins.doc_fragments.bundle_source import ModuleDocFragment
from ansible_collections.groundwork.infra.plugins.module_utils import _bundle_spec
from ansible_collections.groundwork.infra.plugins.modules import bundle_fetch, bundle_info


def documented_options(module):
    doc = yaml.safe_load(module.DOCUMENTATION)
    options = {}
    fragments = doc.get("extends_documentation_fragment", [])
    assert "groundwork.infra.bundle_source" in fragments
    # The other fragments are attribute descriptions (ansible-core's) and support (ours), which add no options.
    assert all(f == "groundwork.infra.bundle_source" or f.startswith(("ansible.builtin.action_common_attributes",
                                                                     "groundwork.infra.attributes")) for f in fragments)
    options.update(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"])
    options.update(doc["options"])  # the module's own entries replace the fragment's, as ansible-doc does
    return options


@pytest.mark.parametrize("module, spec", [(bundle_fetch, _bundle_spec.FETCH_SPEC), (bundle_info, _bundle_spec.INFO_SPEC)],
                         ids=["bundle_fetch", "bundle_info"])
def test_documentation_matches_the_argument_spec(module, spec):
    docs = documented_options(module)
    assert sorted(docs) == sorted(spec)
    for name, arg in spec.items():
        doc = docs[name]
        assert doc.get("type", "str") == arg.get("type", "str"), name
        assert bool(doc.get("required", False)) == bool(arg.get("required", False)), name
        if "default" in arg and arg["default"] is not None:
            default = doc.get("default")
            if arg.get("type") == "path" and isinstance(default, str):
                assert default == arg["default"], name
            else:
                assert default == arg["default"], name
        else:
            assert doc.get("default") is None, name
        assert doc.get("choices") == arg.get("choices"), name
        assert doc.get("elements") == arg.get("elements"), name
        assert doc.get("description"), "%s has no description" % name


def test_fetch_documents_every_returned_error_kind():
    from ansible_collections.groundwork.infra.plugins.module_utils import _bundle_errors
    kinds = set(cls.kind for cls in vars(_bundle_errors).values()
                if isinstance(cls, type) and issubclass(cls, _bundle_errors.BundleError) and cls is not _bundle_errors.BundleError)
    returned = yaml.safe_load(bundle_fetch.RETURN)["error"]["description"]
    text = returned if isinstance(returned, str) else " ".join(returned)
    missing = sorted(k for k in kinds if k not in text)
    assert not missing, "error kinds not documented in RETURN: %s" % missing
