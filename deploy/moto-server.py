"""moto_server for the deploy test (test/integration/aws-deploy.test.ts), with one fix.

moto 5.2.5 splits a `CommaDelimitedList` or `List<…>` parameter into a list only when a value is
passed for it; a Default stays one string, so `RouteTableIds: !Ref VpcRouteTableIds` reaches EC2 as
characters. CloudFormation splits Defaults too, and osls passes every value as a Default. This
wrapper applies the same split after moto loads the parameters; nothing else is changed.

Usage: moto-server.py -H 127.0.0.1 -p PORT (moto_server's own arguments).
"""

import sys

from moto.cloudformation import parsing
from moto.server import main

_load_parameters = parsing.ResourceMap.load_parameters


def _is_list_type(parameter_type: str) -> bool:
    return parameter_type == "CommaDelimitedList" or parameter_type.startswith("List<")


def load_parameters(self: parsing.ResourceMap) -> None:
    _load_parameters(self)
    for name, slot in self._template.get("Parameters", {}).items():
        value = self.resolved_parameters.get(name)
        if isinstance(value, str) and _is_list_type(slot.get("Type", "String")):
            self.resolved_parameters[name] = value.split(",")
            self._parsed_resources[name] = self.resolved_parameters[name]


parsing.ResourceMap.load_parameters = load_parameters

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
