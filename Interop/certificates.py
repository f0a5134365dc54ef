"""Certificates made with openssl for the suites' X.509 devices: a CA, and leaves it signs."""
import subprocess


def openssl(folder, *arguments):
    subprocess.run(["openssl", *arguments], check=True, capture_output=True, cwd=folder)


def make_ca(folder, name: str):
    openssl(folder, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "30", "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,digitalSignature")
    return folder / f"{name}.pem"


def issue(folder, ca: str, common_name: str, file: str):
    """A leaf certificate for `common_name` signed by `ca`; returns (certificate, key) paths."""
    openssl(folder, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{file}.key",
            "-out", f"{file}.csr", "-subj", f"/CN={common_name}")
    (folder / f"{file}.ext").write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    openssl(folder, "x509", "-req", "-in", f"{file}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-out", f"{file}.pem", "-days", "10", "-extfile", f"{file}.ext")
    return folder / f"{file}.pem", folder / f"{file}.key"
