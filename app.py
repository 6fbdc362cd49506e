"""Entry point: ``flask --app app run`` or ``gunicorn app:app``."""

import sys

from screening import create_app
from screening.core.clinic import ClinicFileError
from screening.core.consent import ConsentFileError
from screening.core.model import RuleFileError
from screening.storage import StorageUnavailable
from screening.web.security import ConfigError

try:
    app = create_app()
except RuleFileError as error:
    # Refuse to run on a broken rule file, saying exactly what to fix.
    print("The rule file has problems; the app will not start until they are fixed:", file=sys.stderr)
    for problem in error.problems:
        print(f"  {problem}", file=sys.stderr)
    sys.exit(2)
except (ClinicFileError, ConsentFileError) as error:
    what = "The clinic file has" if isinstance(error, ClinicFileError) else "The consent texts have"
    print(f"{what} problems; the app will not start until they are fixed:", file=sys.stderr)
    for problem in error.problems:
        print(f"  {problem}", file=sys.stderr)
    sys.exit(2)
except (ConfigError, StorageUnavailable) as error:
    print(f"The app will not start: {error}", file=sys.stderr)
    sys.exit(2)
except OSError as error:
    # A folder it must write in that it cannot (a read-only instance folder): one line, not a traceback.
    print(f"The app will not start: {error}", file=sys.stderr)
    sys.exit(2)
