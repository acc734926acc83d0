"""cdk-nag acknowledgments: each names the exact finding and says why it is right here.

Findings are acknowledged on the narrowest construct that owns them; IAM5 (wildcards) findings
name the exact resource or action, so a new wildcard anywhere still fails the synth.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, Stack, Token, Validations
from constructs import IConstruct


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
