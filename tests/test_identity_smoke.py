from shugu.client import Client


def test_operator_login_and_me(operator: Client) -> None:
    me = operator.me()
    assert me.organization.is_platform
    assert "operator" in me.organization.roles


def test_provider_creates_product(provider: Client) -> None:
    p = provider.create_product("power-use", "企业月度用电量", title_en="Monthly power use",
                                tags=["电力", "energy"])
    assert p.slug == "power-use"
    assert provider.get_product("power-use").title_zh == "企业月度用电量"
