"""`python -m wesley.schemas`: regenerate the checked-in JSON Schemas from the models."""

from wesley.schemas import write_all

for path in write_all():
    print(path)
