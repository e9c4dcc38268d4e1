"""otel-aws completion hook for Python Lambda functions (loaded by the exec wrapper).

`/opt/otel-aws-wrapper` puts this folder first on PYTHONPATH, so Python's
`site` imports this file at interpreter start-up. It installs the hook of
`otel_aws_hook` (see there), then runs the `sitecustomize` the function
would otherwise have had, if any, so nothing is shadowed.
"""

import importlib.machinery
import os
import sys

try:
    import otel_aws_hook

    otel_aws_hook.install()
except Exception as e:  # never break the runtime's start-up
    sys.stderr.write(f"otel-aws hook: not installed ({e!r}); the extension waits for runtimeDone\n")


def _chain():
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    from importlib.util import module_from_spec

    module = module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


_chain()
