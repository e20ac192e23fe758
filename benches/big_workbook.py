# Writes an N-row .xlsx inventory for the workbook benchmark in BENCHMARKS.md:
#   target/tmp/openpyxl/bin/python benches/big_workbook.py 100000 /tmp/big.xlsx
import sys, openpyxl
n=int(sys.argv[1]); wb=openpyxl.Workbook(write_only=True); ws=wb.create_sheet("Devices")
ws.append(["id","host","model","mac","site","unit","notes"])
for i in range(n):
    ws.append([f"d{i}", f"10.{i//62500}.{(i//250)%250}.{i%250+1}", "HS103(US)", "%012X" % (0x50C7BF000000+i), f"Site {i%50}", 100+i%900, "notes"])
wb.save(sys.argv[2])
