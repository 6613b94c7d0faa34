"""The caching adapter sends what DSPy's own JSONAdapter would, building it once per signature."""

import dspy

from codeclm_dspy.engine.adapter import CachingJSONAdapter


class Skills(dspy.Signature):
    """Name the skills an instruction needs."""

    instruction: str = dspy.InputField()
    skills: list[str] = dspy.OutputField()


class UseCase(dspy.Signature):
    """Name the use case of an instruction."""

    instruction: str = dspy.InputField()
    use_case: str = dspy.OutputField()


class FakeLM:
    def __init__(self, schema: bool):
        self.supported_params = {"response_format"}
        self.supports_response_schema = schema


def chosen(adapter, lm, signature):
    kwargs: dict = {}
    adapter._prepare_response_format(lm, kwargs, signature)
    return kwargs.get("response_format")


def test_each_signature_gets_dspys_schema_built_once():
    adapter, lm = CachingJSONAdapter(), FakeLM(schema=True)
    first, again = chosen(adapter, lm, Skills), chosen(adapter, lm, Skills)
    assert first is again  # built once, reused
    assert first.model_json_schema() == chosen(dspy.JSONAdapter(), lm, Skills).model_json_schema()
    other = chosen(adapter, lm, UseCase)
    assert set(other.model_json_schema()["properties"]) == {"use_case"}


def test_an_lm_without_schemas_gets_json_mode_as_a_fresh_dict_each_time():
    adapter, lm = CachingJSONAdapter(), FakeLM(schema=False)
    first = chosen(adapter, lm, Skills)
    assert first == {"type": "json_object"} == chosen(dspy.JSONAdapter(), lm, Skills)
    first["type"] = "changed downstream"
    assert chosen(adapter, lm, Skills) == {"type": "json_object"}
    assert chosen(adapter, FakeLM(schema=True), Skills) is not None  # capabilities are part of the key


def test_the_system_message_is_dspys_and_follows_new_instructions():
    adapter = CachingJSONAdapter()
    assert adapter.format_system_message(Skills) == dspy.JSONAdapter().format_system_message(Skills)
    rewritten = Skills.with_instructions("List every skill, most important first.")
    assert "most important first" in adapter.format_system_message(rewritten)
    assert "most important first" not in adapter.format_system_message(Skills)
