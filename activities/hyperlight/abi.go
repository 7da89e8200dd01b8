package hyperlight

// Runtime is the runtime name this package serves.
const Runtime = "hyperlight"

// The guest ABI: ports, fixed addresses and argument blocks. It must match
// guests/sdk/tars_guest.h. Every guest-to-host call is one 32-bit OUT whose
// value (EAX) is a guest physical address, so the host reads its arguments
// from guest memory instead of fetching registers (an ioctl per exit).
const (
	portReady    = 0x5A00 // EAX = call entry; init is done (init only)
	portResult   = 0x5A01 // EAX = &tars_buf{ptr,len}; the call is done
	portLog      = 0x5A02 // EAX = &tars_buf{ptr,len}
	portAbort    = 0x5A03 // EAX = &tars_buf{ptr,len}: the message
	portHostCall = 0x5A04 // EAX = &tars_hostcall
	portFault    = 0x5AFF // EAX = exception vector (the host's own stubs)

	bootMagic  = 0x544F4F4253524154 // "TARSBOOT", little-endian
	abiVersion = 1

	hostTooSmall = 1<<64 - 1 // tars_hostcall.status -1 (int64): out_cap < out_len
)

// Guest physical memory layout; guest virtual addresses are the same. The
// guest runs in user mode (CPL 3); pages marked (S) are supervisor-only,
// for the host's ring-0 stubs and the CPU. The first megabyte belongs to
// the host and is read-only to the guest; the second holds the per-call
// I/O area; the guest image starts at 2 MiB.
//
//	0x000000  null page (not mapped)
//	0x001000  GDT (S)             0x005000  boot info (read-only)
//	0x002000  IDT (S)             0x006000  page tables (S): PML4, PDPT, PD, PT
//	0x003000  fault stubs (S)     0x00A000  call entry stub (read-only, executable)
//	0x010000  TSS and I/O bitmap (S), 3 pages
//	                              0x00A100  clean FXSAVE image (read-only)
//	0x100000  call header         0x101000  input (up to inputCap bytes)
//	0x1FF000  exception stack (S, IST1), up to 0x200000
//	0x200000  guest image: read-only segments, then writable ones
//	heapStart … heapEnd, guard gap (unmapped), stack (2 MiB) up to memSize
const (
	gdtAddr    = 0x1000
	idtAddr    = 0x2000
	stubsAddr  = 0x3000
	tssAddr    = 0x10000
	tssLimit   = 0x68 + 0x2000 // the TSS, then an I/O bitmap for all 65536 ports
	entryAddr  = 0xA000
	fxsaveAddr = 0xA100
	bootAddr   = 0x5000
	pml4Addr   = 0x6000
	pdptAddr   = 0x7000
	pdAddr     = 0x8000
	ptAddr     = 0x9000
	hostEnd    = 0x100000

	callAddr  = 0x100000
	inputAddr = 0x101000
	istTop    = 0x200000
	istPage   = istTop - 0x1000
	inputCap  = istPage - inputAddr

	imageBase = 0x200000
	pageSize  = 0x1000
	hugePage  = 2 << 20
	stackSize = hugePage
	guardSize = hugePage

	minMemoryMiB = 8
	maxMemoryMiB = 1024 // one page directory of 2 MiB pages
)

// Offsets in struct tars_boot.
const (
	bootMagicOff     = 0
	bootVersionOff   = 8
	bootEntryOff     = 16
	bootMemSizeOff   = 24
	bootHeapStartOff = 32
	bootHeapEndOff   = 40
	bootInputOff     = 48
	bootInputCapOff  = 56
	bootStackTopOff  = 64
)

// Offsets in struct tars_hostcall.
const (
	hcNamePtr = 0
	hcNameLen = 8
	hcInPtr   = 16
	hcInLen   = 24
	hcOutPtr  = 32
	hcOutCap  = 40
	hcOutLen  = 48
	hcStatus  = 56
	hcSize    = 64
)
