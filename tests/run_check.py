import sys
print("no cases yet")
