"""The lab's one exception: its message is meant for the operator, as is."""


class LabError(Exception):
    pass
