"""Nothing to make: the script's training data are inline in the script."""

if __name__ == "__main__":
    pass
