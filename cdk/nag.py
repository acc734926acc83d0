"""cdk-nag acknowledgments: each names the exact finding and says why it is right here.

Findings are acknowledged on the narrowest construct that owns them; IAM5 (wildcards) findings
name the exact resource or action, so a new wildcard anywhere still fails the synth.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, CfnElement, Names, Stack, Token, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def check(app: App) -> None:
    """AwsSolutions on every synth: the plugin walks the whole construct tree from the app, so
    every stack of every stage, nested stacks included, is checked."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """`rule` is cdk-nag's id, e.g. `AwsSolutions-L1` or `AwsSolutions-IAM5[Resource::*]`."""
    if len(reason.split()) < 6:
        raise ValueError(f"say why {rule} is acceptable in a sentence, not {reason!r}")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def logical_id(element: IConstruct) -> str:
    """The CloudFormation logical id of an L1 resource (or of an L2's default child)."""
    cfn = element if isinstance(element, CfnElement) else element.node.default_child
    if not isinstance(cfn, CfnElement):
        raise TypeError(f"{element.node.path} has no CloudFormation resource")
    stack = Stack.of(cfn)
    return str(stack.resolve(stack.get_logical_id(cfn)))


def reference(consumer: IConstruct, element: IConstruct, attribute: str = "Arn") -> str:
    """How cdk-nag prints `element`'s attribute (`Arn`, or `Ref`) inside a finding on `consumer`.

    In the element's own template: `<logicalId.Arn>` (`<logicalId>` for Ref). In a nested stack
    that uses an element of another template, CDK passes the value in as a parameter named
    `referenceto<node unique id><attribute>`, and cdk-nag prints that parameter: `<referenceto...Arn>`.
    """
    cfn = element if isinstance(element, CfnElement) else element.node.default_child
    if not isinstance(cfn, CfnElement):
        raise TypeError(f"{element.node.path} has no CloudFormation resource")
    if Stack.of(consumer) is Stack.of(cfn):
        suffix = "" if attribute == "Ref" else f".{attribute}"
        return f"<{logical_id(cfn)}{suffix}>"
    parameter = f"reference-to-{Names.node_unique_id(cfn.node)}{attribute}"
    return "<" + "".join(c for c in parameter if c.isalnum()) + ">"


def wildcard_resource(rule_resource: str) -> str:
    return f"AwsSolutions-IAM5[Resource::{rule_resource}]"


def wildcard_action(action: str) -> str:
    return f"AwsSolutions-IAM5[Action::{action}]"


def region_and_account(scope: IConstruct) -> tuple[str, str]:
    """How cdk-nag prints this stack's region and account inside a finding."""
    stack = Stack.of(scope)
    region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
    account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
    return region, account
