"""The host side of the sandbox: runs in a trusted grading lane, never runs student code.

It starts the zygote, asks it for workers, exchanges protocol messages with them over the safe
wire format, and kills them. Imports: autograder.wire, sandbox.protocol, sandbox.capabilities.
"""
