"""What the status page's form takes as an email address: a plain name@domain.tld, stored in lower
case; anything else is turned away before anything is stored."""

from __future__ import annotations

import pytest

from services.status_page.subscriptions import address_of


@pytest.mark.parametrize(("typed", "stored"), [
    ("dana@contoso.com", "dana@contoso.com"),
    ("  Dana.Client+status@Mail.Contoso.co.uk ", "dana.client+status@mail.contoso.co.uk"),
    ("o'brien@contoso-client.example", "o'brien@contoso-client.example"),
])
def test_an_address_is_kept_in_lower_case(typed: str, stored: str) -> None:
    assert address_of(typed) == stored


@pytest.mark.parametrize("typed", [
    "", "dana", "dana@", "@contoso.com", "dana@contoso", "dana at contoso.com", "dana@@contoso.com",
    "dana@contoso..com", ".dana@contoso.com", "dana.@contoso.com", "dana@-contoso.com",
    "dana@contoso.com\r\nBcc: x@y.com",
    "<dana@contoso.com>", "Dana <dana@contoso.com>", "dana@contoso.com, erin@contoso.com", "d" * 65 + "@contoso.com",
    "dana@" + "a" * 250 + ".com", "dana@contoso.c", "dänä@contoso.com",
])
def test_anything_else_is_not_an_address(typed: str) -> None:
    assert address_of(typed) is None
