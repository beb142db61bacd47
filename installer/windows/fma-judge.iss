; Inno Setup 6 script: wraps the Windows build of `python installer\build.py` (dist\fma-judge\) into
; dist\fma-judge-setup-VERSION.exe.
;
;   iscc /DAppVersion=0.1.0 installer\windows\fma-judge.iss
;
; Per-user install without administrator rights ({autopf}: {localappdata}\Programs\fma-judge; "install for all
; users", or /ALLUSERS, puts it in Program Files, with the shortcuts every user's: {localappdata} was the installing
; administrator's own, which other users cannot reach), a Start-menu entry (and an optional desktop one), and an uninstaller that removes the program folder only: the analyst's database, backups
; and settings live in %LOCALAPPDATA%\fma-judge (platformdirs) and the registry key of Qt's settings, both of which
; are kept. Written for the Windows runner of .github/workflows/windows-installer.yml; not run on the Linux
; development machine (see the README).

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define Root ".."

[Setup]
AppId={{7B1E3C52-4F0A-4C8E-9D2B-FA11D6E0C1A7}
AppName=fma-judge
AppVersion={#AppVersion}
AppPublisher=fma-judge
DefaultDirName={autopf}\fma-judge
DefaultGroupName=fma-judge
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#Root}\..\dist
OutputBaseFilename=fma-judge-setup-{#AppVersion}
SetupIconFile=fma-judge.ico
UninstallDisplayIcon={app}\fma-judge.exe
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
ShowLanguageDialog=auto

[Languages]
Name: "en"; MessagesFile: "compiler:Default.isl"
Name: "zh_TW"; MessagesFile: "compiler:Languages\ChineseTraditional.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#Root}\..\dist\fma-judge\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\fma-judge"; Filename: "{app}\fma-judge.exe"
Name: "{group}\fma-judge self-test"; Filename: "{cmd}"; Parameters: "/k ""{app}\fma-judge-cli.exe"" --self-test"
Name: "{group}\{cm:UninstallProgram,fma-judge}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\fma-judge"; Filename: "{app}\fma-judge.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\fma-judge.exe"; Description: "{cm:LaunchProgram,fma-judge}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Only what the program itself may leave in its folder; never %LOCALAPPDATA%\fma-judge (the judgments).
Type: filesandordirs; Name: "{app}\__pycache__"
