from models import Net


class Student(Net):
    pass
