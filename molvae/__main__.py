from molvae.cli import main

main(prog_name="molvae")
