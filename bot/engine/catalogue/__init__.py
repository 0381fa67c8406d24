"""The service catalogue: services.yaml, reviewed and edited by people.

    reader.py    the file read quickly, with the line of every entry and key
    model.py     Service and Catalogue: each entry checked, `file:line: what is wrong`
    hours.py     structured opening hours, open now or not
    aside.py     a large file loaded in a child process (a reload holds no GIL)
    importer.py  an operator's CSV checked and merged into services.yaml
"""
