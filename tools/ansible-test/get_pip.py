"""Stand-in for the get-pip bootstrap script that `ansible-test --venv` downloads.

ansible-test fetches get-pip from a host that build machines without general internet access
cannot reach. This does the same job with what every CPython ships and PyPI: Python's bundled
pip (ensurepip) installs the pip version ansible-test asks for. ansible-test runs it with the
arguments it would give get-pip, which are `pip install` arguments.
"""

import ensurepip
import os
import subprocess
import sys

# ensurepip switches pip's configuration off in this process (PIP_CONFIG_FILE=/dev/null); the
# install below must see the machine's pip configuration (index, certificates) again.
environment = dict(os.environ)
ensurepip.bootstrap()
arguments = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install"] + arguments, env=environment)
