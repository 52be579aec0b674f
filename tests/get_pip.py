"""What ansible-test runs to put pip into each virtual environment it makes: in
place of get-pip.py (downloaded from a host other than the package index),
pip from this Python's ensurepip, then the pip release it asks for, from the
package index. Its arguments are get-pip.py's: pip options and requirements,
and --no-setuptools / --no-wheel, which pip itself has no use for."""

import ensurepip
import os
import subprocess
import sys

# ensurepip sets PIP_CONFIG_FILE=/dev/null for itself; the install from the
# index reads the machine's pip configuration (its index, its CA).
environment = dict(os.environ)
ensurepip.bootstrap()
arguments = [argument for argument in sys.argv[1:] if argument not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--quiet", *arguments], env=environment))
