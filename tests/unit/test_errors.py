"""recipe_alert.errors: one tree, and every exit code it can end a script with is documented."""

import importlib
import re

from recipe_alert import errors
from testkit import ROOT


def error_classes():
    return [c for c in vars(errors).values()
            if isinstance(c, type) and issubclass(c, errors.RecipeAlertError)]


def test_every_exit_code_is_in_the_readme_table_and_some_scripts_help():
    readme = (ROOT / "README.md").read_text()
    documented = {int(code) for code in re.findall(r"^\| (\d) \|", readme, re.M)}
    epilogs = " ".join(importlib.import_module(script).EPILOG for script in
                       ("producer_raw_recipes", "producer_consumer_parse_recipes",
                        "consumer_notification"))
    for error in error_classes():
        assert error.exit_code in documented, error.__name__
        assert re.search(rf"\b{error.exit_code} [a-z]", epilogs), error.__name__


def test_every_error_says_what_it_means():
    assert all(error.__doc__ for error in error_classes())
